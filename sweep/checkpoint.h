// placeholder: sweep/checkpoint.h
