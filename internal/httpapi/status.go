package httpapi

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"time"
)

// alertmanagerStatus is Alertmanager's API v2 status. amtool reads it to
// compare versions, and Grafana's Alertmanager data source (implementation
// "Prometheus") passes its health check when it answers 200.
type alertmanagerStatus struct {
	Cluster     clusterStatus      `json:"cluster"`
	VersionInfo versionInfo        `json:"versionInfo"`
	Config      alertmanagerConfig `json:"config"`
	// Uptime is, despite its name, when the server started.
	Uptime time.Time `json:"uptime"`
}

// clusterStatus is what Alertmanager answers when it runs without
// clustering: Tocsin's replicas share a database, not a gossip cluster.
type clusterStatus struct {
	Status string       `json:"status"`
	Peers  []peerStatus `json:"peers"`
}

type peerStatus struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

type versionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// alertmanagerConfig would hold Alertmanager's configuration file; Tocsin
// has none of that form, so it is empty.
type alertmanagerConfig struct {
	Original string `json:"original"`
}

// newAlertmanagerStatus returns the status of a server started at start
// running Tocsin version (the module's version in the build information
// when empty). What the build information lacks is empty, as in an
// Alertmanager built without its version flags.
func newAlertmanagerStatus(version string, start time.Time) alertmanagerStatus {
	v := versionInfo{Version: version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.BuildDate = s.Value
			}
		}
	}
	return alertmanagerStatus{
		Cluster:     clusterStatus{Status: "disabled", Peers: []peerStatus{}},
		VersionInfo: v,
		Uptime:      start.UTC().Truncate(time.Millisecond),
	}
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.status)
	return nil
}
