from davfiles.cli import main

raise SystemExit(main())
