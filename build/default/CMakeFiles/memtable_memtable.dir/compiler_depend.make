# Empty compiler generated dependencies file for memtable_memtable.
# This may be replaced when dependencies are built.
