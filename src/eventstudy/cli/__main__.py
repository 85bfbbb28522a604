from eventstudy.cli import main

main()
