CMakeFiles/memtable_skiplist.dir/memtable/skiplist.c.o: \
 /work/main/memtable/skiplist.c /usr/include/stdc-predef.h
