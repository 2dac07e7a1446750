print("pbench")
