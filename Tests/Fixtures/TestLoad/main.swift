print("testload: under construction")
