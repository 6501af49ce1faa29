from restorer_gui.app import main

raise SystemExit(main())
