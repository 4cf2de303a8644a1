print("profctl: under construction")
