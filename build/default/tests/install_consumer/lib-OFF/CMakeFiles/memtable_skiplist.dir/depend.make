# Empty dependencies file for memtable_skiplist.
# This may be replaced when dependencies are built.
