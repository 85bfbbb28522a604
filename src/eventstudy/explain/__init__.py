"""Explaining reactions (docs/explaining.md): firm characteristics, cross-sectional regressions
of CARs (statsmodels formulas, robust and clustered covariances, precision weights) and group
comparisons (Welch t, Mann-Whitney, ANOVA, Kruskal-Wallis).

:mod:`.characteristics` reads and checks a characteristics file or frame and builds the
cross-section of a window (the firm-events' CAR or BHAR beside the built-in variables and the
characteristics); :mod:`.regression` fits one regression and tabulates it (``regressions.csv``);
:mod:`.groups` compares groups (``group_tests.csv``, ``group_means.csv``); :mod:`.methods` puts
them on the results object (``with_characteristics``, ``regress`` and the frames). The stage
takes result frames and returns frames: it reads no file of its own but the characteristics.
"""
