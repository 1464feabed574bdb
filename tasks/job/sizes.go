package job

// sizesOf lists the uploads' sizes in bytes, in order (0: unknown, e.g. a
// remote URL given without one): the batch's bytes total, so progress can
// show bytes done of bytes to send.
func sizesOf(uploads []keyed) []int64 {
	out := make([]int64, len(uploads))
	for i, k := range uploads {
		out[i] = k.u.Size
	}
	return out
}
