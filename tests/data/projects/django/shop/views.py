from django.conf import settings
from django.http import JsonResponse


def pay(request):
    # keywarden:allow documented sandbox key from the tutorial
    tutorial = "mk_test_TESTKEYTESTKEYTESTKEY"
    # A placeholder someone wrote with zeros between the words: not a key.
    sample = "mk_test_your0test0key0goes0here00"
    return JsonResponse({"ok": bool(settings.MASK_API_KEY), "t": tutorial, "s": sample})
