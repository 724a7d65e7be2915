"""What an activity is: the Activity API, its options, the registry, the ways
a type can be served (classes, functions by import path, mapped Celery
tasks) and registering types with SWF."""
