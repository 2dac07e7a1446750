print("pcoord: not built yet")
