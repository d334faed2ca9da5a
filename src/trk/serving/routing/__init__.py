"""Champion/challenger: the router, the shadow runner, reloads, signature checks."""
