from hokusai_platform.cli import main

main()
