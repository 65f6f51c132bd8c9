from django.conf import settings
from django.http import JsonResponse


def pay(request):
    # keywarden:allow documented sandbox key from the tutorial
    tutorial = "mk_test_TESTKEYTESTKEYTESTKEY"
    return JsonResponse({"ok": bool(settings.MASK_API_KEY), "t": tutorial})
