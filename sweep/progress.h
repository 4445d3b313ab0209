// placeholder: sweep/progress.h
