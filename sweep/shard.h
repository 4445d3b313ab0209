// placeholder: sweep/shard.h
