from deployctl.main import main

main()
