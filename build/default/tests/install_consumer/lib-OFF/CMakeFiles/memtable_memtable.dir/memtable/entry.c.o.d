CMakeFiles/memtable_memtable.dir/memtable/entry.c.o: \
 /work/main/memtable/entry.c /usr/include/stdc-predef.h
