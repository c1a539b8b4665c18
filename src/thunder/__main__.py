from thunder.entrypoints.cli.main import main

main()
