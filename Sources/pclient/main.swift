print("pclient")
