from trustscore.cli import main

main()
