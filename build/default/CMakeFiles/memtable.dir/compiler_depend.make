# Empty compiler generated dependencies file for memtable.
# This may be replaced when dependencies are built.
