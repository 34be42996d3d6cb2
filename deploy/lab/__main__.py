import sys

from deploy.lab.run import main

sys.exit(main())
