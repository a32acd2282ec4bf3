"""``python -m gwaslmm`` runs the command-line tool."""

from gwaslmm_cli.main import main

if __name__ == "__main__":
    main()
