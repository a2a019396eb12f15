from django.db import models  # noqa: F401  (orders models arrive with issue 4)
