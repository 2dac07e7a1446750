// CoordinatorServer: the Hummingbird application.
