"""Null models behind one interface (:mod:`.base`): the one-kinship
eigen REML of :mod:`.eigen_reml` today."""
