package frameio_test

import (
	"fmt"

	"github.com/frameq/frameq/frameio"
)

// A V4 local upload's parts: each upload URL's own size, at the running sum
// of the earlier ones. Printing the file hides the URLs' signatures.
func ExampleFile_Parts() {
	f := frameio.File{ID: "f1", Name: "clip.mov", FileSize: 16, MediaType: "video/quicktime", Status: frameio.FileCreated,
		UploadURLs: []frameio.UploadURL{
			{Size: 5, URL: "https://s3.example/p0?X-Amz-Signature=secret0"},
			{Size: 3, URL: "https://s3.example/p1?X-Amz-Signature=secret1"},
			{Size: 8, URL: "https://s3.example/p2?X-Amz-Signature=secret2"},
		}}
	for _, p := range f.Parts() {
		fmt.Printf("part %d: bytes %d..%d\n", p.Index, p.Offset, p.Offset+p.Size)
	}
	fmt.Println(f.UploadURLs[1])
	// Output:
	// part 0: bytes 0..5
	// part 1: bytes 5..8
	// part 2: bytes 8..16
	// {Size:3 URL:https://s3.example/p1?[REDACTED]}
}
