"""Reports: Manhattan and QQ plots, split by role — reading result files
(:mod:`.assoc_reader`), thinning (:mod:`.thinning`), QQ statistics
(:mod:`.qq`), drawing (:mod:`.render`) and the driver (:mod:`.plot`)."""
