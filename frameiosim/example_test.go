package frameiosim_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/frameq/frameq/frameiosim"
)

// A create over plain HTTP, then the recorded figures.
func Example() {
	sim := frameiosim.New(frameiosim.Config{CreateLimit: 5, Enforcement: frameiosim.SlidingWindow})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer sim.Close()

	body := `{"type":"file","name":"clip.mov","filetype":"video/quicktime","filesize":20000000}`
	req, _ := http.NewRequest(http.MethodPost, sim.URL()+"/assets/"+sim.RootFolder("dev-token")+"/children", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer dev-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var asset struct {
		Name       string   `json:"name"`
		UploadURLs []string `json:"upload_urls"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&asset)
	fmt.Println(resp.Status, asset.Name, len(asset.UploadURLs), "parts")
	fmt.Println("remaining creates:", resp.Header.Get("x-ratelimit-remaining"))
	fmt.Println("max creates in 1s:", sim.MaxCreatesInWindow("dev-token", time.Second))
	// Output:
	// 201 Created clip.mov 3 parts
	// remaining creates: 4
	// max creates in 1s: 1
}
