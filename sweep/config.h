// placeholder: sweep/config.h
