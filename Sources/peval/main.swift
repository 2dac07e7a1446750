print("peval: not built yet")
