package frameio_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/frameq/frameq/apierr"
	"github.com/frameq/frameq/frameio"
	"github.com/frameq/frameq/frameiosim"
)

// Create a file, PUT its parts, and see what a failure says.
func Example() {
	sim := frameiosim.New(frameiosim.Config{PartSize: 4})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer sim.Close()

	ctx := context.Background()
	c, err := frameio.New(frameio.Options{BaseURL: sim.URL(), Token: frameiosim.DefaultToken})
	if err != nil {
		panic(err)
	}
	data := []byte("0123456789")
	a, err := c.CreateAsset(ctx, sim.RootFolder(frameiosim.DefaultToken), frameio.CreateAsset{
		Type: frameio.TypeFile, Name: "digits.txt", Filetype: "text/plain", Filesize: int64(len(data)),
	})
	if err != nil {
		panic(err)
	}
	for _, p := range frameio.Parts(a.Filesize, len(a.UploadURLs)) {
		fmt.Printf("part %d: bytes %d..%d\n", p.Index, p.Offset, p.Offset+p.Size)
		if err := c.UploadPart(ctx, a.UploadURLs[p.Index], a.Filetype, bytes.NewReader(data), p.Offset, p.Size); err != nil {
			panic(err)
		}
	}
	fmt.Println("complete:", sim.Stats().Files[0].Complete)

	_, err = c.GetAsset(ctx, "no-such-asset")
	fmt.Println(err)
	fmt.Println(apierr.Classify(err), apierr.Ambiguous(err))
	// Output:
	// part 0: bytes 0..4
	// part 1: bytes 4..8
	// part 2: bytes 8..10
	// complete: true
	// get asset "no-such-asset": GET /v2/assets/no-such-asset: 404 Not Found: asset no-such-asset not found: it was moved or deleted
	// terminal false
}
