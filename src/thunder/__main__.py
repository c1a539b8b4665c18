from thunder.entrypoints.cli import main

main()
