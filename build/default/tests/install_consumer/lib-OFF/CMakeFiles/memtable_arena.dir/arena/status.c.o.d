CMakeFiles/memtable_arena.dir/arena/status.c.o: /work/main/arena/status.c \
 /usr/include/stdc-predef.h /work/main/include/memtable/export.h \
 /work/main/include/memtable/status.h
