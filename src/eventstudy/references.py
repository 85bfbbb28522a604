"""The one bibliography: every paper a docstring, the docs, the report or the tables cite, by key.

Test, model and measure descriptions (:mod:`eventstudy.inference.registry`,
:mod:`eventstudy.estimation.models`) name their papers by these keys; the report's reference list
and the tables' citation column are built from here.
"""

from __future__ import annotations

#: Citation key -> (short citation, full reference) of every paper the report may cite.
REFERENCES: dict[str, tuple[str, str]] = {
    "ajinkya-jain-1989": (
        "Ajinkya & Jain (1989)",
        "Ajinkya, B. B., and P. C. Jain (1989). The behavior of daily stock market trading volume. "
        "Journal of Accounting and Economics 11(4), 331–359.",
    ),
    "barber-lyon-1997": (
        "Barber & Lyon (1997)",
        "Barber, B. M., and J. D. Lyon (1997). Detecting long-run abnormal stock returns: The "
        "empirical power and specification of test statistics. Journal of Financial Economics "
        "43(3), 341–372.",
    ),
    "beaver-1968": (
        "Beaver (1968)",
        "Beaver, W. H. (1968). The information content of annual earnings announcements. Journal "
        "of Accounting Research 6 (Supplement), 67–92.",
    ),
    "benjamini-hochberg-1995": (
        "Benjamini & Hochberg (1995)",
        "Benjamini, Y., and Y. Hochberg (1995). Controlling the false discovery rate: A practical "
        "and powerful approach to multiple testing. Journal of the Royal Statistical Society, "
        "Series B 57(1), 289–300.",
    ),
    "boehmer-1991": (
        "Boehmer, Musumeci & Poulsen (1991)",
        "Boehmer, E., J. Musumeci, and A. B. Poulsen (1991). Event-study methodology under "
        "conditions of event-induced variance. Journal of Financial Economics 30(2), 253–272.",
    ),
    "bollerslev-1986": (
        "Bollerslev (1986)",
        "Bollerslev, T. (1986). Generalized autoregressive conditional heteroskedasticity. "
        "Journal of Econometrics 31(3), 307–327.",
    ),
    "brown-warner-1980": (
        "Brown & Warner (1980)",
        "Brown, S. J., and J. B. Warner (1980). Measuring security price performance. Journal "
        "of Financial Economics 8(3), 205–258.",
    ),
    "brown-warner-1985": (
        "Brown & Warner (1985)",
        "Brown, S. J., and J. B. Warner (1985). Using daily stock returns: The case of event "
        "studies. Journal of Financial Economics 14(1), 3–31.",
    ),
    "cameron-miller-2015": (
        "Cameron & Miller (2015)",
        "Cameron, A. C., and D. L. Miller (2015). A practitioner's guide to cluster-robust "
        "inference. Journal of Human Resources 50(2), 317–372.",
    ),
    "campbell-wasley-1996": (
        "Campbell & Wasley (1996)",
        "Campbell, C. J., and C. E. Wasley (1996). Measuring abnormal daily trading volume for "
        "samples of NYSE/ASE and NASDAQ securities using parametric and nonparametric test "
        "statistics. Review of Quantitative Finance and Accounting 6(3), 309–326.",
    ),
    "clm-1997": (
        "Campbell, Lo & MacKinlay (1997)",
        "Campbell, J. Y., A. W. Lo, and A. C. MacKinlay (1997). The Econometrics of Financial "
        "Markets, chapter 4. Princeton University Press.",
    ),
    "carhart-1997": (
        "Carhart (1997)",
        "Carhart, M. M. (1997). On persistence in mutual fund performance. Journal of Finance "
        "52(1), 57–82.",
    ),
    "corrado-1989": (
        "Corrado (1989)",
        "Corrado, C. J. (1989). A nonparametric test for abnormal security-price performance in "
        "event studies. Journal of Financial Economics 23(2), 385–395.",
    ),
    "corrado-zivney-1992": (
        "Corrado & Zivney (1992)",
        "Corrado, C. J., and T. L. Zivney (1992). The specification and power of the sign test "
        "in event study hypothesis tests using daily stock returns. Journal of Financial and "
        "Quantitative Analysis 27(3), 465–478.",
    ),
    "cowan-1992": (
        "Cowan (1992)",
        "Cowan, A. R. (1992). Nonparametric event study tests. Review of Quantitative Finance "
        "and Accounting 2(4), 343–358.",
    ),
    "cready-hurtt-2002": (
        "Cready & Hurtt (2002)",
        "Cready, W. M., and D. N. Hurtt (2002). Assessing investor response to information events "
        "using return and volume metrics. The Accounting Review 77(4), 891–909.",
    ),
    "davidson-flachaire-2008": (
        "Davidson & Flachaire (2008)",
        "Davidson, R., and E. Flachaire (2008). The wild bootstrap, tamed at last. Journal of "
        "Econometrics 146(1), 162–169.",
    ),
    "davison-hinkley-1997": (
        "Davison & Hinkley (1997)",
        "Davison, A. C., and D. V. Hinkley (1997). Bootstrap Methods and their Application. "
        "Cambridge University Press.",
    ),
    "dimson-1979": (
        "Dimson (1979)",
        "Dimson, E. (1979). Risk measurement when shares are subject to infrequent trading. "
        "Journal of Financial Economics 7(2), 197–226.",
    ),
    "fama-1998": (
        "Fama (1998)",
        "Fama, E. F. (1998). Market efficiency, long-term returns, and behavioral finance. "
        "Journal of Financial Economics 49(3), 283–306.",
    ),
    "fama-french-1993": (
        "Fama & French (1993)",
        "Fama, E. F., and K. R. French (1993). Common risk factors in the returns on stocks and "
        "bonds. Journal of Financial Economics 33(1), 3–56.",
    ),
    "fama-french-2015": (
        "Fama & French (2015)",
        "Fama, E. F., and K. R. French (2015). A five-factor asset pricing model. Journal of "
        "Financial Economics 116(1), 1–22.",
    ),
    "fisher-1925": (
        "Fisher (1925)",
        "Fisher, R. A. (1925). Statistical Methods for Research Workers. Edinburgh: Oliver and "
        "Boyd.",
    ),
    "gelbach-2013": (
        "Gelbach, Helland & Klick (2013)",
        "Gelbach, J. B., E. Helland, and J. Klick (2013). Valid inference in single-firm, "
        "single-event studies. American Law and Economics Review 15(2), 495–541.",
    ),
    "hall-1992": (
        "Hall (1992)",
        "Hall, P. (1992). On the removal of skewness by transformation. Journal of the Royal "
        "Statistical Society, Series B 54(1), 221–228.",
    ),
    "jaffe-1974": (
        "Jaffe (1974)",
        "Jaffe, J. F. (1974). Special information and insider trading. Journal of Business "
        "47(3), 410–428.",
    ),
    "holm-1979": (
        "Holm (1979)",
        "Holm, S. (1979). A simple sequentially rejective multiple test procedure. Scandinavian "
        "Journal of Statistics 6(2), 65–70.",
    ),
    "kolari-pynnonen-2010": (
        "Kolari & Pynnönen (2010)",
        "Kolari, J. W., and S. Pynnönen (2010). Event study testing with cross-sectional "
        "correlation of abnormal returns. Review of Financial Studies 23(11), 3996–4025.",
    ),
    "kolari-pynnonen-2011": (
        "Kolari & Pynnönen (2011)",
        "Kolari, J. W., and S. Pynnönen (2011). Nonparametric rank tests for event studies. "
        "Journal of Empirical Finance 18(5), 953–971.",
    ),
    "kruskal-wallis-1952": (
        "Kruskal & Wallis (1952)",
        "Kruskal, W. H., and W. A. Wallis (1952). Use of ranks in one-criterion variance "
        "analysis. Journal of the American Statistical Association 47(260), 583–621.",
    ),
    "liang-zeger-1986": (
        "Liang & Zeger (1986)",
        "Liang, K.-Y., and S. L. Zeger (1986). Longitudinal data analysis using generalized "
        "linear models. Biometrika 73(1), 13–22.",
    ),
    "lamb-1995": (
        "Lamb (1995)",
        "Lamb, R. P. (1995). An exposure-based analysis of property-liability insurer stock "
        "values around Hurricane Andrew. Journal of Risk and Insurance 62(1), 111–123.",
    ),
    "lyon-1999": (
        "Lyon, Barber & Tsai (1999)",
        "Lyon, J. D., B. M. Barber, and C.-L. Tsai (1999). Improved methods for tests of "
        "long-run abnormal stock returns. Journal of Finance 54(1), 165–201.",
    ),
    "mackinlay-1997": (
        "MacKinlay (1997)",
        "MacKinlay, A. C. (1997). Event studies in economics and finance. Journal of Economic "
        "Literature 35(1), 13–39.",
    ),
    "mackinnon-white-1985": (
        "MacKinnon & White (1985)",
        "MacKinnon, J. G., and H. White (1985). Some heteroskedasticity-consistent covariance "
        "matrix estimators with improved finite sample properties. Journal of Econometrics "
        "29(3), 305–325.",
    ),
    "mann-whitney-1947": (
        "Mann & Whitney (1947)",
        "Mann, H. B., and D. R. Whitney (1947). On a test of whether one of two random "
        "variables is stochastically larger than the other. Annals of Mathematical Statistics "
        "18(1), 50–60.",
    ),
    "mandelker-1974": (
        "Mandelker (1974)",
        "Mandelker, G. (1974). Risk and return: The case of merging firms. Journal of "
        "Financial Economics 1(4), 303–335.",
    ),
    "mitchell-stafford-2000": (
        "Mitchell & Stafford (2000)",
        "Mitchell, M. L., and E. Stafford (2000). Managerial decisions and long-term stock "
        "price performance. Journal of Business 73(3), 287–329.",
    ),
    "newey-west-1987": (
        "Newey & West (1987)",
        "Newey, W. K., and K. D. West (1987). A simple, positive semi-definite, "
        "heteroskedasticity and autocorrelation consistent covariance matrix. Econometrica 55(3), "
        "703–708.",
    ),
    "newey-west-1994": (
        "Newey & West (1994)",
        "Newey, W. K., and K. D. West (1994). Automatic lag selection in covariance matrix "
        "estimation. Review of Economic Studies 61(4), 631–653.",
    ),
    "patell-1976": (
        "Patell (1976)",
        "Patell, J. M. (1976). Corporate forecasts of earnings per share and stock price "
        "behavior: Empirical tests. Journal of Accounting Research 14(2), 246–276.",
    ),
    "scholes-williams-1977": (
        "Scholes & Williams (1977)",
        "Scholes, M., and J. Williams (1977). Estimating betas from nonsynchronous data. "
        "Journal of Financial Economics 5(3), 309–327.",
    ),
    "sefcik-thompson-1986": (
        "Sefcik & Thompson (1986)",
        "Sefcik, S. E., and R. Thompson (1986). An approach to statistical inference in "
        "cross-sectional models with security abnormal returns as dependent variable. Journal "
        "of Accounting Research 24(2), 316–334.",
    ),
    "welch-1947": (
        "Welch (1947)",
        "Welch, B. L. (1947). The generalization of 'Student's' problem when several different "
        "population variances are involved. Biometrika 34(1–2), 28–35.",
    ),
    "white-1980": (
        "White (1980)",
        "White, H. (1980). A heteroskedasticity-consistent covariance matrix estimator and a "
        "direct test for heteroskedasticity. Econometrica 48(4), 817–838.",
    ),
    "wilcoxon-1945": (
        "Wilcoxon (1945)",
        "Wilcoxon, F. (1945). Individual comparisons by ranking methods. Biometrics Bulletin "
        "1(6), 80–83.",
    ),
    "wu-1986": (
        "Wu (1986)",
        "Wu, C. F. J. (1986). Jackknife, bootstrap and other resampling methods in regression "
        "analysis. Annals of Statistics 14(4), 1261–1295.",
    ),
}
#: Short citations, e.g. for the test table's reference column.
CITES: dict[str, str] = {key: short for key, (short, _full) in REFERENCES.items()}


def short_citations(keys: tuple[str, ...] | list[str]) -> str:
    """``"Corrado (1989); Corrado & Zivney (1992)"`` for citation keys."""
    return "; ".join(CITES[k] for k in keys)
