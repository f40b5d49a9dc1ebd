// envgen(config) is the CI of a service that keeps an envgen.cue: the
// shared-library step the Jenkinsfile beside vars/ calls. Its shell steps
// are envgen's commands as the documentation gives them; a test
// (e2e/jenkins_test.go) runs them, in order, against the test cluster as a
// pull request's build does, and checks the main branch's.
//
// config: image (envgen's image by digest: make image prints it; the agent
// Pod of resources/envgen-agent.yaml gets envgen from it), buildkit (the
// daemon for pull requests' images), trustedBuildkit (the daemon for
// production's), gerritCredentials (a username/password credential that
// may review).
def call(Map config = [:]) {
  def agent = libraryResource('envgen-agent.yaml').replace('ENVGEN_IMAGE', config.image)
  podTemplate(yaml: agent) {
    node(POD_LABEL) {
      checkout scm
      withEnv(["BUILDKIT_HOST=${config.buildkit ?: ''}", "TRUSTED_BUILDKIT=${config.trustedBuildkit ?: ''}"]) {
        stage('vet') {
          // Findings as Gerrit inline comments, then vet's verdict.
          sh 'envgen vet -o gerrit > vet.json || [ $? -eq 1 ]'
          if (env.GERRIT_CHANGE_NUMBER && config.gerritCredentials) {
            withCredentials([usernamePassword(credentialsId: config.gerritCredentials, usernameVariable: 'GERRIT_USER', passwordVariable: 'GERRIT_PASSWORD')]) {
              sh 'curl -fsS -u "$GERRIT_USER:$GERRIT_PASSWORD" -H "Content-Type: application/json" --data @vet.json "$GERRIT_URL/a/changes/$GERRIT_CHANGE_NUMBER/revisions/$GERRIT_PATCHSET_REVISION/review"'
            }
          }
          sh 'envgen vet --fail-on error'
        }
        stage('deploy tree') {
          sh 'envgen generate --check'
        }
        stage('run') {
          try {
            sh 'envgen run --tag "$GIT_COMMIT" --build-id "$BUILD_TAG" --report ci.json --junit junit.xml'
          } finally {
            junit allowEmptyResults: true, testResults: 'junit.xml'
            archiveArtifacts allowEmptyArchive: true, artifacts: 'ci.json'
          }
        }
        if (env.BRANCH_NAME == 'main') {
          stage('promote') {
            // The production stage, built on the trusted daemon, pinned
            // against the run's report; the pin is a reviewed change.
            sh 'envgen image --env production --trusted --buildkit "$TRUSTED_BUILDKIT" > image.txt'
            sh 'envgen promote --env production --image "$(cat image.txt)" --report ci.json'
            // The first promotion creates envgen.lock.cue: added by name,
            // as `commit -a` would leave a new file out.
            sh 'envgen generate && git add envgen.lock.cue deploy && git commit -qm "Promote to production" && git push origin HEAD:refs/for/main'
          }
        }
      }
    }
  }
}
