"""The local package index: a wheelhouse served on loopback like the public index, shaped by
network profiles."""
