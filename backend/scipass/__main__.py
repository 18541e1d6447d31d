from scipass.cli import main

main()
