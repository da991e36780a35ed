"""The embedded local stack (moto as AWS, the axis simulator, demo agencies and users).

Development, demo and test only: production code never imports this package.
"""
