# <cluster>/<tenant>/<key id>. The secret is shown once, at creation: an
# imported key has none in the state.
terraform import aerolith_api_key.app shop/tn_0123456789abcdefghij/0503a275b3385fb6
