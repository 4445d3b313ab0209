// placeholder: sweep/sweep.h
