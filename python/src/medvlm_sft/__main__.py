import sys

from medvlm_sft.cli import main

sys.exit(main())
