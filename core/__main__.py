from arportal.cli import main

main()
