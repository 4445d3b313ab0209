// placeholder: sweep/runner.h
