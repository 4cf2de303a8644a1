print("profd: under construction")
