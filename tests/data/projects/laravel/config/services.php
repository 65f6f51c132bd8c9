<?php

return [
    'mask' => [
        'key' => env('MASK_API_KEY', '{{mk:live:high}}'),
        'sandbox' => 'mk_test_aBcDeFgHiJkLmNoPqRsT',
    ],
];
