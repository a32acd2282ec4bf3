"""The thin click front end of gwaslmm: parse options, call the library, report."""
