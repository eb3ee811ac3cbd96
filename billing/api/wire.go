package api

// The API answers with billing/contract's wire types; the ledger's stored
// types map to them with their Wire methods. These lift that to slices and
// pointers, keeping nil as nil (JSON null) as the stored types encoded.

func wireAll[T interface{ Wire() W }, W any](in []T) []W {
	if in == nil {
		return nil
	}
	out := make([]W, len(in))
	for i, v := range in {
		out[i] = v.Wire()
	}
	return out
}

func wirePtr[T interface{ Wire() W }, W any](p *T) *W {
	if p == nil {
		return nil
	}
	w := (*p).Wire()
	return &w
}
